"""Everything that renders: live progress, the terminal summary, the JSON summary."""

from bulkload.report.json_summary import summary_dict, write_json
from bulkload.report.progress import ProgressReporter
from bulkload.report.summary import render_summary

__all__ = ["ProgressReporter", "render_summary", "summary_dict", "write_json"]
