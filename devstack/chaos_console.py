"""The chaos run's steps inside the console (run by devstack/chaos_cluster.py
with the virtualenv's Python and Django set up): people on call with webhook
contacts, the P1 policy shortened to minutes, and starting runbook runs.
`python -m devstack.chaos_console COMMAND JSON` prints one JSON line."""
import json
import sys
from datetime import date

RUNBOOK_SLUG = "chaos-steps"
# The P1 levels of the run: role, minutes after opening, stop on, repeat every (minutes).
ROLES = ("oncall-sre", "senior-sre", "engineering-manager")


def runbook_text(marker):
    """Two automatic shell steps; each appends one line naming its run and step to the
    shared marker file, so a step that ran twice shows as two lines."""
    return f"""---
title: Chaos steps
kind: runbook
parameters:
  tag:
    type: string
    pattern: '^[a-z0-9-]{{1,40}}$'
    description: Names the run in the marker file.
---

# Chaos steps

Written by `python3 -m devstack chaos`: each step marks the shared file once.

```shell title="Mark and wait" auto=true timeout=60
echo "{{{{ tag }}}} 1" >> {marker}
sleep 4
echo "step one done"
```

```shell title="Mark again" auto=true timeout=30
echo "{{{{ tag }}}} 2" >> {marker}
echo "step two done"
```
"""


def setup(payload):
    """One person per paging role (no e-mail: pages go to webhooks only), a personal
    webhook each and a team webhook, and the P1 policy's levels from payload["levels"]."""
    from django.contrib.auth import get_user_model

    from ops_console.escalation.models import (ContactMethod, EscalationLevel, EscalationPolicy, ResponseRole,
                                               Rotation, RotationMember)

    User = get_user_model()
    receiver = "json://" + payload["receiver"].removeprefix("http://")   # Apprise's JSON webhook
    User.objects.get_or_create(username="chaos")
    for slug in ROLES:
        user, _ = User.objects.get_or_create(username=slug.replace("-", "_"))
        rotation, _ = Rotation.objects.update_or_create(role=ResponseRole.objects.get(slug=slug),
                                                        defaults={"starts_on": date(2020, 1, 6)})
        RotationMember.objects.get_or_create(rotation=rotation, user=user, position=0)
        ContactMethod.objects.create(user=user, url=f"{receiver}/person/{user.username}")
    ContactMethod.objects.create(user=None, url=f"{receiver}/team")
    policy = EscalationPolicy.objects.get(severity="P1", service=None)
    policy.levels.all().delete()
    for position, (slug, minutes, stop_on, repeat) in enumerate(payload["levels"], start=1):
        EscalationLevel.objects.create(policy=policy, position=position, delay_minutes=minutes,
                                       role=ResponseRole.objects.get(slug=slug), stop_on=stop_on,
                                       repeat_every_minutes=repeat)
    return {"policy": policy.pk, "levels": len(payload["levels"])}


def start_runs(payload):
    from django.contrib.auth import get_user_model

    from ops_console.runbooks import engine
    from ops_console.runbooks.models import Runbook

    actor = get_user_model().objects.get(username="chaos")
    version = Runbook.objects.get(slug=RUNBOOK_SLUG).current_version
    return {"runs": [engine.start_run(version, {"tag": tag}, actor=actor).pk for tag in payload["tags"]]}


COMMANDS = {"setup": setup, "start_runs": start_runs}


def main(argv):
    import django

    django.setup()
    print(json.dumps(COMMANDS[argv[0]](json.loads(argv[1]))))


if __name__ == "__main__":
    main(sys.argv[1:])
