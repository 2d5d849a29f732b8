"""``--hdr-log``: the timeline as an HdrHistogram interval log (format version 1.3).

The format jHiccup and cassandra-stress write, so HdrHistogram's own tools read it
(``HistogramLogProcessor``, ``HistogramLogReader``, HdrHistogramVisualizer)::

    #[Histogram log format version 1.3]
    #[StartTime: 1796657858.157 (seconds since epoch), Mon Dec 07 15:37:38 UTC 2026]
    "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
    Tag=c=4_batch_100,0.000,0.843,2.113,HISTFAAAA...

One line per interval of the timeline: its start (seconds after StartTime), length,
largest latency (ms) and its histogram, compressed and base64-encoded (V2). Values are
recorded in microseconds: HdrHistogram's tools print milliseconds with
``-outputValueUnitRatio 1000``. The tag is the interval's level (spaces, commas and
parentheses, which a tag may not hold, become ``_``).
"""

from __future__ import annotations

import re
import time

from bulkload.report.json_summary import write_text
from bulkload.stats.timeline import Timeline

FORMAT_VERSION = "1.3"
_NOT_IN_A_TAG = re.compile(r"[\s,()]+")


def log_tag(tag: str) -> str:
    return _NOT_IN_A_TAG.sub("_", tag).strip("_")


def hdr_log_text(timeline: Timeline | None) -> str:
    intervals = [] if timeline is None else timeline.intervals
    start = min((interval.start for interval in intervals), default=time.time())
    stamp = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(start))
    lines = [
        f"#[Histogram log format version {FORMAT_VERSION}]",
        f"#[StartTime: {start:.3f} (seconds since epoch), {stamp}]",
        '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"',
    ]
    for interval in intervals:
        histogram = interval.latency
        tag = log_tag(interval.tag)
        lines.append(
            (f"Tag={tag}," if tag else "")
            + f"{interval.start - start:.3f},{interval.seconds:.3f},"
            + f"{histogram.max_ms:.3f},{histogram.encode()}"
        )
    return "\n".join(lines) + "\n"


def write_hdr_log(timeline: Timeline | None, path: str) -> None:
    """Write the log to ``path`` (atomically), or to stdout for '-'. Raises OSError."""
    write_text(hdr_log_text(timeline), path)
