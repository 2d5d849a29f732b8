"""The terminal views: every renderer that draws with rich lives here, one module per
view, and reads plain data from the layers below (results, stats, the figures of
:mod:`bulkload.report`).

- :mod:`.import_summary`: an import's final summary
- :mod:`.import_progress`: an import's live progress (a bar and a line, or plain lines)
- :mod:`.sweep_table`: a sweep's levels, chart, recommendation and warnings
- :mod:`.sweep_progress`: a sweep's live progress
- :mod:`.verdict`: gates and the comparison with a baseline
- :mod:`.histogram`: latency histograms as text bars
"""
