"""The M/M/1 and tandem models of benches/peers, written for SimPy.

Each customer is a process that requests each station's resource in turn,
holds it for an exponential service time and releases it; the script records
the end-to-end latency of every customer (as chokepoint does) and prints the
mean so the three tools can be compared for sanity, not only for speed.
"""
import random
import sys
import time

import simpy

RATE = 100.0
MEANS = {"mm1": [0.008], "tandem": [0.004, 0.008, 1.0 / 150.0]}


def run(model: str, customers: int, seed: int = 1) -> None:
    means = MEANS[model]
    rng = random.Random(seed)
    env = simpy.Environment()
    stations = [simpy.Resource(env, capacity=1) for _ in means]
    latencies = []

    def customer():
        born = env.now
        for station, mean in zip(stations, means):
            with station.request() as req:
                yield req
                yield env.timeout(rng.expovariate(1.0 / mean))
        latencies.append(env.now - born)

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(RATE))
            env.process(customer())

    env.process(source())
    started = time.perf_counter()
    env.run()
    wall = time.perf_counter() - started
    visits = len(latencies) * len(means)
    print(f"simpy {model}: {len(latencies)} customers, mean latency {sum(latencies) / len(latencies):.6f} s, "
          f"{wall:.2f} s, {visits / wall / 1e6:.3f} M visits/s")


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]))
