# A stable key per delivery (sent as Idempotency-Key / Message-ID) and the worker
# holding the claim. Existing rows get a key each before the column turns unique.
import uuid

from django.db import migrations, models


def fill_keys(apps, schema_editor):
    Delivery = apps.get_model("escalation", "Delivery")
    for pk in Delivery.objects.filter(key__isnull=True).values_list("pk", flat=True).iterator():
        Delivery.objects.filter(pk=pk).update(key=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ('escalation', '0002_escalate_while_unresolved'),
    ]

    operations = [
        migrations.AddField(
            model_name='delivery',
            name='key',
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name='delivery',
            name='key',
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name='delivery',
            name='claimed_by',
            field=models.CharField(blank=True, help_text='host:pid of the worker sending it', max_length=200),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='attempts',
            field=models.PositiveSmallIntegerField(default=0, help_text="Claims so far; the current attempt's number"),
        ),
    ]
