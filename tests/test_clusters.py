"""Clusters as process backends, for real: a Dask LocalCluster with 2 worker processes and a
local Ray with a ray.util.multiprocessing.Pool of 2. Each is started once for this module."""

import os
import threading
import time
from pathlib import Path

import pytest

import coop
from coop.lowlevel import ignore_thread

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

HERE = Path(__file__).resolve().parent


def square(x):
    return x * x


def fail(message):
    raise ValueError(message)


def die():
    os._exit(1)


def token(_=None):
    return os.urandom(8).hex()


def pid_of(_=None):
    return os.getpid()


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def ticker(ticks, stop):
    while not stop:
        ticks.append(1)
        yield coop.sleep(0.005)


def forget_leftover_threads(before):
    # Dask and Ray keep a few idle threads (callback executors) after shutting down. The
    # deadlock detector of later tests would take them for threads that may still hand work
    # in, and wait instead of raising Deadlock.
    for thread in threading.enumerate():
        if thread not in before:
            ignore_thread(thread)


@pytest.fixture(scope="module")
def dask_client():
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    before = set(threading.enumerate())
    # A worker that dies fails its task at once rather than after three restarts.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
    forget_leftover_threads(before)


@pytest.fixture(scope="module")
def ray_pool():
    ray = pytest.importorskip("ray")
    from ray.util.multiprocessing import Pool

    before = set(threading.enumerate())
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(
                 [str(HERE), str(HERE.parent)])}})
    pool = Pool(2)
    try:
        yield pool
    finally:
        pool.terminate()
        ray.shutdown()
        forget_leftover_threads(before)


@pytest.fixture(params=["dask", "ray"])
def cluster(request):
    return request.getfixturevalue(f"{request.param}_client" if request.param == "dask"
                                   else "ray_pool")


def test_to_process_and_pmap_run_on_the_cluster(cluster):
    ticks, stop = [], []

    def main():
        yield coop.spawn(ticker(ticks, stop))
        one = yield coop.to_process(square, 7)
        many = yield coop.pmap(square, range(20), chunksize=3)
        pids = yield coop.pmap(pid_of, range(8), chunksize=1)
        stop.append(True)
        return one, many, set(pids)

    one, many, pids = coop.run(main(), processes=cluster)
    assert one == 49 and many == [x * x for x in range(20)]
    assert os.getpid() not in pids
    assert ticks  # the scheduler ran other tasks while the cluster worked


def test_clusters_pickle_with_cloudpickle_so_lambdas_work(cluster):
    def main():
        return (yield coop.to_process(lambda x: x + 1, 41))

    assert coop.run(main(), processes=cluster) == 42


def test_a_remote_exception_carries_its_traceback(cluster):
    def main():
        try:
            yield coop.to_process(fail, "on the cluster")
        except ValueError as err:
            return err

    err = coop.run(main(), processes=cluster)
    assert str(err) == "on the cluster"
    assert isinstance(err.__cause__, coop.RemoteTraceback) and "in fail" in str(err.__cause__)


def test_identical_calls_are_not_merged_on_dask(dask_client):
    def main():
        calls = []
        for _ in range(4):
            calls.append((yield coop.spawn(one())))
        results = []
        for task in calls:
            results.append((yield coop.join(task)))
        return results

    def one():
        return (yield coop.to_process(token))

    results = coop.run(main(), processes=dask_client)
    assert len(set(results)) == 4  # Dask's pure=True default would have run token() once


def test_timing_out_cancels_the_dask_future(dask_client):
    def main():
        try:
            yield coop.timeout(0.2, coop.to_process(sleep_then, 5, "late"))
        except coop.Timeout:
            pass
        return (yield coop.to_process(square, 3))

    assert coop.run(main(), processes=dask_client) == 9
    deadline = time.monotonic() + 10
    while any(key.startswith("coop-sleep_then") for key in dask_client.futures):
        assert time.monotonic() < deadline, "the timed-out call is still on the cluster"
        time.sleep(0.05)


def test_timing_out_on_ray_drops_the_late_result(ray_pool):
    def main():
        try:
            yield coop.timeout(0.1, coop.to_process(sleep_then, 1, "late"))
        except coop.Timeout:
            timed_out = True
        yield coop.sleep(1.3)  # the late result arrives meanwhile and goes nowhere
        return timed_out, (yield coop.to_process(square, 4))

    assert coop.run(main(), processes=ray_pool) == (True, 16)


def test_results_and_exceptions_of_main_and_local_classes_come_back(cluster):
    # b11: Dask and Ray pickle with cloudpickle, which sends a class defined in __main__ (a
    # script's) or inside a function by value; the outcome must come home through that same
    # serializer, so whatever the backend alone returns, coop returns. A class whose
    # __module__ is "__main__" is what a script's class is to cloudpickle.
    class Point:
        def __init__(self, x):
            self.x = x

    class LocalError(Exception):
        pass

    MainPoint = type("MainPoint", (Point,), {"__module__": "__main__"})
    MainError = type("MainError", (Exception,), {"__module__": "__main__"})

    def make(x):
        return MainPoint(x) if x % 2 else Point(x)

    def raise_local():
        raise LocalError("a local class")

    def raise_main():
        raise MainError("a __main__ class")

    def main():
        one = yield coop.to_process(make, 3)
        many = yield coop.pmap(make, range(4), chunksize=1)
        caught = []
        for fn, cls in ((raise_local, LocalError), (raise_main, MainError)):
            try:
                yield coop.to_process(fn)
            except Exception as err:
                caught.append((type(err).__name__, isinstance(err, cls), str(err),
                               type(err.__cause__).__name__))
        return one, many, caught

    one, many, caught = coop.run(main(), processes=cluster)
    assert type(one).__name__ == "MainPoint" and one.x == 3
    assert [(type(p).__name__, p.x) for p in many] == [
        ("Point", 0), ("MainPoint", 1), ("Point", 2), ("MainPoint", 3)]
    assert caught == [("LocalError", True, "a local class", "RemoteTraceback"),
                      ("MainError", True, "a __main__ class", "RemoteTraceback")]


def test_a_dead_cluster_worker_raises_worker_crashed_and_later_calls_work(cluster):
    def main():
        try:
            yield coop.to_process(die)
        except coop.WorkerCrashed as err:
            message = str(err)
        later = yield coop.pmap(square, range(6), chunksize=1)
        return message, later

    own_pool = None
    if not hasattr(cluster, "submit"):  # Ray's Pool: a pool of its own, so that the actor
        from ray.util.multiprocessing import Pool  # killed here is no later test's worker

        own_pool = cluster = Pool(2)
    try:
        message, later = coop.run(main(), processes=cluster)
    finally:
        if own_pool is not None:
            own_pool.terminate()
    assert "to_process(die)" in message and "died" in message
    if own_pool is not None:
        assert "pass a new Pool to later runs" in message  # Ray's Pool keeps the dead actor
    assert later == [x * x for x in range(6)]

