"""Share by link: stored reports come back intact under ids nobody can guess."""

from __future__ import annotations

from analyzers import share


def test_saved_report_loads_back_intact(tmp_path):
    store = share.ReportStore(tmp_path / "r.db")
    rid = store.save("<html>é</html>", '{"runs": []}', title="t")
    got = store.load(rid)
    assert (got.html, got.json, got.title) == ("<html>é</html>", '{"runs": []}', "t")


def test_ids_are_random_url_safe_and_128_bit(tmp_path):
    store = share.ReportStore(tmp_path / "r.db")
    ids = {store.save("x") for _ in range(20)}
    assert len(ids) == 20
    assert all(share.is_report_id(i) and len(i) == 22 for i in ids)


def test_unknown_id_loads_nothing(tmp_path):
    store = share.ReportStore(tmp_path / "r.db")
    store.save("x")
    assert store.load("A" * 22) is None


def test_malformed_id_is_refused_before_any_query(tmp_path):
    store = share.ReportStore(tmp_path / "r.db")
    assert store.load("' OR 1=1 --") is None


def test_missing_database_loads_nothing_and_creates_nothing(tmp_path):
    store = share.ReportStore(tmp_path / "absent" / "r.db")
    assert store.load("A" * 22) is None
    assert not (tmp_path / "absent").exists()


def test_database_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(share.DB_ENV, str(tmp_path / "env.db"))
    rid = share.save("<p>hi</p>")
    assert (tmp_path / "env.db").exists() and share.load(rid).html == "<p>hi</p>"


def test_default_path_is_under_the_users_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(share.DB_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert share.default_db_path() == tmp_path / "rlhf-triage" / "reports.db"
