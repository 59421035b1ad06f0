from django.db import migrations

# New entries of a GIN index wait in a pending list that every search reads whole, until
# a vacuum, or the list outgrowing this limit (kB; PostgreSQL's default is 4 MB), merges
# them into the index. At the default, searching 1,000 freshly written conversations read
# megabytes of pending entries (`make bench`: 0.19 s); a small list keeps each search
# short, the merge's cost spread over the writes that fill it.
PENDING_LIST_KB = 256


def limit_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER INDEX IF EXISTS content_item_text_search "
            f"SET (gin_pending_list_limit = {PENDING_LIST_KB})"
        )


def reset_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER INDEX IF EXISTS content_item_text_search RESET (gin_pending_list_limit)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0010_mcp_server"),
    ]

    operations = [
        migrations.RunPython(limit_pending_list, reset_pending_list),
    ]
