from core.domain.models.tarea import Tarea


def test_sqlite_pg_and_mongo_fixtures_store_a_tarea(sqlite_repo, pg_repo, mongo_repo):
    for repo in (sqlite_repo, pg_repo, mongo_repo):
        tarea = repo.save(Tarea.crear("uno"))
        assert repo.get(tarea.id) == tarea
