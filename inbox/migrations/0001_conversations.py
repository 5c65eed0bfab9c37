"""The inbox's tables: conversations, their history, the agents of the round-robin.

Their triggers, the conversations of the clients who already wrote and the groups are the next
migration's: Django adds this one's foreign keys when it ends, and a table with rows waiting for
their deferred checks cannot be altered (a database with clients would not migrate).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0002_emails_in_their_one_form'),
        ('clients', '0004_number_ends'),
        ('whatsapp', '0012_message_text_search'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Agent',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='agent', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('available', models.BooleanField(default=False, verbose_name='available for new conversations')),
                ('last_assigned_at', models.DateTimeField(blank=True, editable=False, null=True)),
            ],
            options={
                'verbose_name': 'agent availability',
                'verbose_name_plural': "agents' availability",
                'db_table': 'inbox_agents',
            },
        ),
        migrations.CreateModel(
            name='Conversation',
            fields=[
                ('client', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='conversation', serialize=False, to='clients.client')),
                ('status', models.CharField(choices=[('open', 'Open'), ('pending', 'Pending (waiting for the client)'), ('resolved', 'Resolved'), ('snoozed', 'Snoozed')], default='open', max_length=16)),
                ('snoozed_until', models.DateTimeField(blank=True, null=True)),
                ('waiting_since', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='waiting since')),
                ('instance_id', models.BigIntegerField(default=0, editable=False, verbose_name='instance')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('assignee', models.ForeignKey(blank=True, limit_choices_to={'is_active': True, 'is_staff': True}, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='conversations', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'conversation',
                'db_table': 'inbox_conversations',
                'permissions': [('view_all_conversations', 'Can see every conversation, whoever it is assigned to')],
            },
        ),
        migrations.CreateModel(
            name='ConversationEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('field', models.CharField(choices=[('status', 'Status'), ('assignee', 'Assignee')], max_length=16)),
                ('old', models.CharField(blank=True, max_length=255, verbose_name='from')),
                ('new', models.CharField(blank=True, max_length=255, verbose_name='to')),
                ('note', models.TextField(blank=True)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('conversation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='inbox.conversation')),
            ],
            options={
                'db_table': 'inbox_conversation_events',
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['assignee', 'status'], name='inbox_conv_assignee'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['status'], name='inbox_conv_status'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['waiting_since'], name='inbox_conv_waiting'),
        ),
        migrations.AddIndex(
            model_name='conversationevent',
            index=models.Index(fields=['conversation', '-at'], name='inbox_event_conversation'),
        ),
    ]
