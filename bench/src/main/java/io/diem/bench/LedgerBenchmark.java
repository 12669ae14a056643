package io.diem.bench;

import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.ledger.LedgerConfig;
import io.diem.gateway.ledger.LedgerViews;
import io.diem.gateway.store.Db;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reservations per second (reserve + post, the two ledger writes of every admitted call) on one
 * database from 1 and 8 threads, each thread on its own account. Run by scripts/bench-ledger.sh.
 *
 * <pre>java -cp diem-gateway.jar:diem-bench.jar io.diem.bench.LedgerBenchmark JDBC_URL|h2 SECONDS</pre>
 */
public final class LedgerBenchmark {

    private LedgerBenchmark() {}

    public static void main(String[] args) throws Exception {
        String target = args.length > 0 ? args[0] : "h2";
        double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 5;
        Path tmp = null;
        String url = target;
        if (target.equals("h2")) {
            tmp = Files.createTempDirectory("ledger-bench");
            url = Db.h2Url(tmp);
        }
        try (Db db = Db.open(url, 16)) {
            Ledger ledger = new Ledger(db, LedgerConfig.defaults(), Clock.systemUTC());
            for (int threads : new int[] {1, 8}) {
                run(ledger, threads, 1.0); // warm-up
                double perSecond = run(ledger, threads, seconds);
                System.out.printf("%-10s threads=%d  %.0f reservations/s (reserve + post)%n",
                        target.equals("h2") ? "h2" : "postgresql", threads, perSecond);
            }
        } finally {
            if (tmp != null) {
                try (var files = Files.walk(tmp)) {
                    files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    private static double run(Ledger ledger, int threads, double seconds) throws Exception {
        List<String> accounts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String id = ledger.createAccount("bench").accountId();
            ledger.depositVvv(id, 1_000_000_000_000L);
            ledger.stakeVvv(id, 1_000_000_000_000L);
            ledger.mint(id, 1_000_000_000L, 0);
            ledger.stakeDiem(id, 1_000_000_000L);
            accounts.add(id);
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        AtomicLong done = new AtomicLong();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long start = System.nanoTime();
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String account = accounts.get(t);
            futures.add(pool.submit(() -> {
                long i = 0;
                while (System.nanoTime() < end) {
                    String id = account + "-" + i++;
                    ledger.reserve(id, account, null, 1_000);
                    ledger.post(id, new LedgerViews.UsageRecord(id, null, null, "bench", "node", 10, 10, 1000, "gpu", 700, "length", null));
                    done.incrementAndGet();
                }
                return null;
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
        pool.shutdown();
        return done.get() / ((System.nanoTime() - start) / 1e9);
    }
}
