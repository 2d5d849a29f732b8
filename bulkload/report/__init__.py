"""Results as data and files: the JSON summary, the HTML report, and the figures the
terminal views (:mod:`bulkload.cli.views`) render. Nothing here draws on a terminal."""

from bulkload.report.json_summary import summary_dict, write_json

__all__ = ["summary_dict", "write_json"]
