"""The history's pages: the incident history and its exports, postmortems, reports."""
