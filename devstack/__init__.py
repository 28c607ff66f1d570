"""Local service orchestration for Ops Console: provisioning, the standalone
runner and the test runner. Standard library only, because it runs before the
virtualenv exists (and the tests import it to start real services)."""
