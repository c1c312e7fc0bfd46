"""The M/M/1 and tandem models of benches/peers, written for Ciw.

A Ciw network of single-server FIFO nodes in series with exponential
service, run until `customers` have arrived and been served.
"""
import sys
import time

import ciw

RATE = 100.0
MEANS = {"mm1": [0.008], "tandem": [0.004, 0.008, 1.0 / 150.0]}


def run(model: str, customers: int, seed: int = 1) -> None:
    means = MEANS[model]
    n = len(means)
    routing = [[1.0 if j == i + 1 else 0.0 for j in range(n)] for i in range(n)]
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(RATE)] + [None] * (n - 1),
        service_distributions=[ciw.dists.Exponential(1.0 / m) for m in means],
        routing=routing,
        number_of_servers=[1] * n,
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    horizon = customers / RATE
    started = time.perf_counter()
    sim.simulate_until_max_time(horizon)
    wall = time.perf_counter() - started
    records = sim.get_all_records()
    born, left = {}, {}
    for r in records:
        if r.node == 1:
            born[r.id_number] = r.arrival_date
        if r.node == n:
            left[r.id_number] = r.exit_date
    latencies = [left[i] - born[i] for i in left]
    visits = len(records)
    print(f"ciw {model}: {len(latencies)} customers, mean latency {sum(latencies) / len(latencies):.6f} s, "
          f"{wall:.2f} s, {visits / wall / 1e6:.3f} M visits/s")

if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]))
