"""Bounded heavy work: a queue per kind with a configured number of concurrent jobs, 429
with Retry-After when full, one run for identical concurrent requests, a memory ceiling."""

from __future__ import annotations

import threading
import time

import pytest

from bliatlas import jobs


def _cohort(n: int) -> bytes:
    from bliatlas.settlement.cohort import COHORT_COLUMNS

    lines = [",".join(COHORT_COLUMNS)]
    for i in range(n):
        lines.append(f"p{i},h{i},30,K,grunnskole,ingen,syria,0,0,,")
    return ("\n".join(lines) + "\n").encode()


def _hold(queue: jobs.JobQueue, release: threading.Event, started: threading.Event):
    def work():
        started.set()
        release.wait(30)
        return "først"

    t = threading.Thread(target=lambda: queue.run(work))
    t.start()
    assert started.wait(10)
    return t


def test_queue_admits_the_configured_number_and_refuses_past_the_queue(monkeypatch):
    monkeypatch.setenv("BLI_MATCHING_JOBS", "1")
    monkeypatch.setenv("BLI_QUEUE_LENGTH", "1")
    monkeypatch.setenv("BLI_QUEUE_WAIT", "20")
    q = jobs.JobQueue("test", "Testjobber", lambda: jobs.settings.get().matching_jobs)
    release, started = threading.Event(), threading.Event()
    first = _hold(q, release, started)
    results: list[str] = []
    second = threading.Thread(target=lambda: results.append(q.run(lambda: "andre")))
    second.start()
    deadline = time.monotonic() + 10
    while q.status()["venter"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert q.status()["kjorer"] == 1
    with pytest.raises(jobs.Busy) as busy:
        q.run(lambda: "tredje")
    assert busy.value.http_status == 429 and busy.value.retry_after >= 1
    assert "1 kjører og 1 venter" in str(busy.value)
    release.set()
    first.join()
    second.join()
    assert results == ["andre"]
    assert q.status()["ferdige"] == 2 and q.status()["avvist"] == 1


def test_waiting_too_long_is_429(monkeypatch):
    monkeypatch.setenv("BLI_MATCHING_JOBS", "1")
    monkeypatch.setenv("BLI_QUEUE_LENGTH", "3")
    monkeypatch.setenv("BLI_QUEUE_WAIT", "0.3")
    q = jobs.JobQueue("test", "Testjobber", lambda: 1)
    release, started = threading.Event(), threading.Event()
    first = _hold(q, release, started)
    with pytest.raises(jobs.Busy, match="ventet 0.3 s"):
        q.run(lambda: None)
    release.set()
    first.join()


def test_identical_concurrent_requests_share_one_run(monkeypatch):
    monkeypatch.setenv("BLI_RENDER_JOBS", "2")
    q = jobs.JobQueue("pdf", "PDF", lambda: 2)
    calls: list[int] = []

    def render():
        calls.append(1)
        time.sleep(0.5)
        return b"%PDF"

    out: list[bytes] = []
    threads = [threading.Thread(target=lambda: out.append(q.run(render, key=("4650", "pdf"))))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [b"%PDF"] * 8 and len(calls) == 1
    assert q.status()["delt"] == 7
    q.run(render, key=("4650", "pdf"))  # not in flight any more: a new run
    assert len(calls) == 2


def test_a_failed_shared_run_fails_for_all():
    q = jobs.JobQueue("pdf", "PDF", lambda: 1)
    gate = threading.Event()

    def broken():
        gate.wait(5)
        raise jobs.UserError("ødelagt")

    errors: list[str] = []

    def call():
        try:
            q.run(broken, key="k")
        except jobs.UserError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    gate.set()
    for t in threads:
        t.join()
    assert errors == ["ødelagt"] * 3


def test_matching_over_the_memory_ceiling_is_refused_before_it_starts(client, monkeypatch):
    monkeypatch.setenv("BLI_JOB_MEMORY_MB", "160")
    small = client.post("/api/bosetting/match", data={"fylke": "46"},
                        files={"kohort": ("k.csv", _cohort(20), "text/csv")})
    assert small.status_code == 200  # 150 MB base + 20 × 43 cells fits
    done = jobs.matching().status()["ferdige"]
    r = client.post("/api/bosetting/match",
                    files={"kohort": ("k.csv", _cohort(2000), "text/csv")})
    assert r.status_code == 413
    assert "taket på 160 MB per jobb (BLI_JOB_MEMORY_MB)" in r.json()["error"]
    assert jobs.matching().status()["ferdige"] == done  # nothing ran


def test_full_matching_queue_answers_429_with_retry_after(client, monkeypatch):
    monkeypatch.setenv("BLI_QUEUE_LENGTH", "0")
    release, started = threading.Event(), threading.Event()
    holder = _hold(jobs.matching(), release, started)
    try:
        r = client.post("/api/bosetting/match", data={"fylke": "46"},
                        files={"kohort": ("k.csv", _cohort(20), "text/csv")})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert "Matching: 1 kjører" in r.json()["error"]
        page = client.post("/bosetting/matching", data={"kilde": "syntetisk", "personer": "30",
                                                         "fylke": "46"})
        assert page.status_code == 429 and "prøv igjen om litt" in page.text
        status = client.get("/api/jobber").json()["jobber"][0]
        assert status["kjorer"] == 1 and status["jobb"] == "matching"
        form = client.get("/bosetting/matching").text
        assert "1 av 1 plasser i bruk" in form
    finally:
        release.set()
        holder.join()
    r = client.post("/api/bosetting/match", data={"fylke": "46"},
                    files={"kohort": ("k.csv", _cohort(20), "text/csv")})
    assert r.status_code == 200

