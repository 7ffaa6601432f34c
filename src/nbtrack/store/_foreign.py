"""Another application's database (MLflow's), looked at without changing it.

SQLAlchemy stays in the store layer: the MLflow importer asks here which
tables a database holds before it lets MLflow's client near it (that client
creates its schema in any database it is given).
"""

from __future__ import annotations

from nbtrack.exceptions import InvalidInputError

#: The package of each PostgreSQL driver: SQLAlchemy 2.1 picks psycopg for postgresql://,
#: 2.0 psycopg2.
_DRIVER_PACKAGES = {"psycopg": "'psycopg[binary]'", "psycopg2": "psycopg2-binary"}


def table_names(uri: str, what: str) -> set[str]:
    """The tables of the database at SQLAlchemy URI ``uri`` (read from its catalog only).

    A missing driver or a database that cannot be reached is
    :class:`InvalidInputError` naming ``what`` (e.g. "the MLflow store") and the fix.
    """
    import sqlalchemy as sa

    from nbtrack.store.locate import hide_password

    shown = hide_password(uri)
    scheme = uri.split("://", 1)[0]
    try:
        engine = sa.create_engine(uri)
    except ImportError as error:  # no DBAPI driver (SQLAlchemy's default for the scheme)
        package = _DRIVER_PACKAGES.get(error.name or "", "the driver")
        raise InvalidInputError(
            f"reading {what} {shown} needs the {scheme} driver SQLAlchemy uses ({error}): "
            f"pip install {package}"
        ) from None
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    except sa.exc.DBAPIError as error:
        raise InvalidInputError(f"cannot read {what} {shown}: {str(error.orig).strip()}") from None
    finally:
        engine.dispose()
