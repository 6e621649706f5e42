"""keyfolio.storage: SQLAlchemy 2 + Alembic persistence that speaks domain objects only.

```python
db = Database(settings.db_url)
db.migrate()
with db.session() as store:          # one transaction
    store.add_account(spec=AccountSpec(exchange="okx", name="main"))
```
"""

from keyfolio.storage.db import Database
from keyfolio.storage.repositories import DEFAULT_PORTFOLIO, Store, SyncRun

__all__ = ["DEFAULT_PORTFOLIO", "Database", "Store", "SyncRun"]
