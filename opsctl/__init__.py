"""opsctl: the Ops Console's REST API from a terminal (standard library only)."""
