"""Lookups of our own, used as expressions: `Model.objects.filter(AnyOf(F("id"), ids))`."""

from django.db.models.lookups import In


class AnyOf(In):
    """`IN`, sent to PostgreSQL as `= ANY(%s)` with the values as one array parameter.
    Django sends each value of an `IN` list as a parameter of its own, each prepared and
    adapted in Python, and a statement whose text changes with the list's length is
    never prepared for good: a branch's 1,000 ids cost a few milliseconds a statement.
    Other databases (SQLite) get the `IN` list."""

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection) for value in self.rhs]
        return f"{lhs} = ANY(%s)", (*lhs_params, values)
