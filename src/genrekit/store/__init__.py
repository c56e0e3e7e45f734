"""Storage: the database engine and sessions, the tables, their Alembic migrations, the
queries and the vector search, shared by the REST service, ``genrekit scan`` and retraining.

Modules: :mod:`~genrekit.store.db` (engine, sessions, migrations), :mod:`~genrekit.store.tables`
(the ORM tables), :mod:`~genrekit.store.ownership` (which API key's rows a query sees),
:mod:`~genrekit.store.queries` (classifications, audio, cursors), :mod:`~genrekit.store.vectors`
(track embeddings and similarity search), :mod:`~genrekit.store.corrections` (editors'
corrections) and :mod:`~genrekit.store.errors`. Nothing here knows about HTTP: the service maps
:class:`~genrekit.store.errors.StoreError` to its problem answers.
"""
