"""Sealed entries and the witness's bookmark. `seal` is nullable without a
default: PostgreSQL adds it without touching a row (the append-only trigger
never fires); the entries already written keep NULL, their plain SHA-256."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0006_search_documents'),
    ]

    operations = [
        migrations.CreateModel(
            name='ChainWitness',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entry_id', models.BigIntegerField(default=0)),
                ('hash', models.CharField(blank=True, max_length=64)),
                ('witnessed_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='auditentry',
            name='seal',
            field=models.SmallIntegerField(
                blank=True, null=True,
                help_text='The number of the chain key that sealed the hash (HMAC-SHA256); empty: written '
                          'before entries were sealed (plain SHA-256)'),
        ),
    ]
