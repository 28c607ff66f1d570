# Contact methods become Apprise URLs with a delay after the page (notification rules);
# each delivery attempt is a row; a page knows why it was sent and when all of its
# person's methods failed. Existing e-mail/webhook/Slack methods (and unfinished
# deliveries) are rewritten as Apprise URLs: mailto:// through the server in settings,
# json(s):// for webhooks, Slack-compatible hooks as JSON with the body {"text": ...}.
import urllib.parse

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

SLACK_BODY = ":message=text&:version=&:title=&:attachments=&:type="


def email_url(address):
    # A copy of channels.email_url as it was when this migration was written.
    auth = ""
    if settings.EMAIL_HOST_USER:
        auth = urllib.parse.quote(settings.EMAIL_HOST_USER, safe="")
        if settings.EMAIL_HOST_PASSWORD:
            auth += ":" + urllib.parse.quote(settings.EMAIL_HOST_PASSWORD, safe="")
        auth += "@"
    query = {"smtp": settings.EMAIL_HOST, "to": address, "from": settings.DEFAULT_FROM_EMAIL,
             "mode": "starttls" if settings.EMAIL_USE_TLS else "insecure"}
    return f"mailto://{auth}{settings.EMAIL_HOST}:{settings.EMAIL_PORT}?{urllib.parse.urlencode(query, safe='@')}"


def webhook_url(address, *, slack=False):
    parts = urllib.parse.urlsplit(address)
    if slack and parts.hostname == "hooks.slack.com":
        return address  # Apprise reads Slack's own webhook URLs as they are
    scheme = {"http": "json", "https": "jsons"}.get(parts.scheme)
    if scheme is None:
        return address
    # The webhook's own query parameters: Apprise passes on the ones written `-name=value`.
    query = "&".join(f"-{pair}" for pair in parts.query.split("&") if pair)
    if slack:
        query = "&".join(filter(None, [query, SLACK_BODY]))
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path, query, ""))


def to_apprise(channel, address):
    if channel == "email":
        return email_url(address)
    if channel in ("webhook", "slack"):
        return webhook_url(address, slack=channel == "slack")
    return address


def forwards(apps, schema_editor):
    # Foreign keys checked now: ALTER TABLE after these updates must find no pending trigger events.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    ContactMethod = apps.get_model("escalation", "ContactMethod")
    Delivery = apps.get_model("escalation", "Delivery")
    for method in ContactMethod.objects.all():
        method.url = to_apprise(method.channel, method.address)
        method.label = {"email": "E-mail", "webhook": "Webhook", "slack": "Chat"}.get(method.channel, "")
        method.save(update_fields=["url", "label"])
    batch = []
    for delivery in Delivery.objects.filter(channel__in=["email", "webhook", "slack"]).only(
            "pk", "channel", "address").iterator(chunk_size=2000):
        delivery.address = to_apprise(delivery.channel, delivery.address)
        delivery.personal = delivery.channel != "slack"
        delivery.channel = {"email": "E-Mail", "webhook": "JSON", "slack": "Slack"}[delivery.channel]
        batch.append(delivery)
        if len(batch) >= 2000:
            Delivery.objects.bulk_update(batch, ["address", "channel", "personal"])
            batch = []
    Delivery.objects.bulk_update(batch, ["address", "channel", "personal"])
    schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):

    dependencies = [
        ('escalation', '0004_recurring_maintenance'),
        ('incidents', '0005_resolution_targets_from_the_reports'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='contactmethod',
            name='url',
            field=models.CharField(default='', help_text='e.g. mailto://smtp.example.com?to=me@example.com, jsons://hooks.example.com/page, slack://T000/B000/XXXX, ntfy://ntfy.sh/topic', max_length=1000, verbose_name='Apprise URL'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='contactmethod',
            name='label',
            field=models.CharField(blank=True, help_text='A name you recognise, e.g. “work phone”', max_length=100),
        ),
        migrations.AddField(
            model_name='contactmethod',
            name='position',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='contactmethod',
            name='delay_minutes',
            field=models.PositiveIntegerField(default=0, help_text='Minutes after the page'),
        ),
        migrations.AlterModelOptions(
            name='contactmethod',
            options={'ordering': ['user_id', 'delay_minutes', 'position', 'id']},
        ),
        migrations.AddField(
            model_name='delivery',
            name='method',
            field=models.ForeignKey(blank=True, help_text="Empty: the person's account e-mail", null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='deliveries', to='escalation.contactmethod'),
        ),
        migrations.AddField(
            model_name='delivery',
            name='personal',
            field=models.BooleanField(default=True, help_text="The paged person's own method, not a team channel"),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='address',
            field=models.CharField(help_text='The Apprise URL (may hold secrets: show it masked)', max_length=1000),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='channel',
            field=models.CharField(help_text='The Apprise service, e.g. E-Mail, JSON, Slack', max_length=50),
        ),
        migrations.AddField(
            model_name='page',
            name='failed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='page',
            name='reason',
            field=models.CharField(choices=[('level', 'escalation level'), ('commander', 'made commander'), ('responder', 'added as responder'), ('reminder', 'acknowledged, still open')], default='level', max_length=10),
        ),
        migrations.AddField(
            model_name='page',
            name='round',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='page',
            name='step',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='page', to='escalation.scheduledlevel'),
        ),
        migrations.AddConstraint(
            model_name='page',
            constraint=models.UniqueConstraint(condition=models.Q(('reason', 'level'), _negated=True), fields=('incident', 'user', 'reason', 'round'), name='one_page_per_person_reason_round'),
        ),
        migrations.CreateModel(
            name='DeliveryAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveSmallIntegerField()),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField()),
                ('outcome', models.CharField(choices=[('sent', 'sent'), ('failed', 'failed'), ('lost', 'worker lost')], max_length=10)),
                ('error', models.TextField(blank=True)),
                ('worker', models.CharField(blank=True, max_length=200)),
                ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempt_log', to='escalation.delivery')),
            ],
            options={
                'ordering': ['delivery_id', 'number'],
                'constraints': [models.UniqueConstraint(fields=('delivery', 'number'), name='one_row_per_attempt')],
            },
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='contactmethod',
            name='address',
        ),
        migrations.RemoveField(
            model_name='contactmethod',
            name='channel',
        ),
    ]
