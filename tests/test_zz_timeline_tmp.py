import time
from pathlib import Path
from tests.test_reliability_faults import *  # noqa
from tests.test_reliability_faults import _process_group

def test_timeline(redis_settings, tmp_path, worker_factory):
    ctx = get_context(redis_settings)
    ids = accept_files(ctx, [scan_pdf(tmp_path / f"s{i}.pdf", 2) for i in range(2)])
    enqueue_all(ctx, ids)
    queue = job_queue(ctx.settings)
    w = worker_factory(redis_settings)
    t0 = time.monotonic(); w.start()
    wait_for(lambda: running_job(queue, w), 60, "start", 0.05)
    t1 = time.monotonic(); print("job started after", round(t1 - t0, 2))
    seen = []
    while time.monotonic() - t1 < 60:
        job = running_job(queue, w)
        g = _process_group(w.proc.pid)
        seen.append((round(time.monotonic() - t1, 2), job[-6:] if job else None, "tesseract" in g.values()))
        time.sleep(0.1)
    prev = None
    for t, j, o in seen:
        if (j, o) != prev: print(t, j, o); prev = (j, o)
