# Anyone with a role may hold API tokens of their own (they act with that role);
# seeing everyone's comes with view_* (auditors, admins), revoking anyone's is the admin's.
GRANTS = {
    "responder": ["accounts.manage_own_tokens"],
    "auditor": ["accounts.manage_own_tokens"],
}
