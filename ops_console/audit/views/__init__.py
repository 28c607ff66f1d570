"""The audit log's own pages: the log, one entry, exports of a period."""
