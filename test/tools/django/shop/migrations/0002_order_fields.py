# What an application's next release adds to a big table: a foreign key
# to a new column (with its index), an indexed code, an index on an
# existing column.  Django sends ADD COLUMN ... REFERENCES ... DEFERRABLE
# and plain CREATE INDEX statements, all in one transaction.
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="order",
            name="customer",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="shop.customer",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="code",
            field=models.CharField(max_length=20, null=True, db_index=True),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["amount"], name="shop_order_amount_idx"),
        ),
    ]
