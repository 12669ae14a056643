package io.diem.gateway.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class GroupSyncTest {

    @Test
    void everyCommitterReturnsOnlyAfterASyncThatStartedAfterItAndSyncsAreShared() throws Exception {
        AtomicLong commits = new AtomicLong();
        AtomicLong coveredUpTo = new AtomicLong(); // the commit count when the last finished sync started
        GroupSync sync = new GroupSync(() -> {
            long startedAt = commits.get();
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            coveredUpTo.accumulateAndGet(startedAt, Math::max);
        });
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<Integer>> results = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            results.add(pool.submit(() -> {
                int wrong = 0;
                for (int i = 0; i < 100; i++) {
                    long mine = commits.incrementAndGet(); // "commit"
                    sync.await();
                    if (coveredUpTo.get() < mine) {
                        wrong++;
                    }
                }
                return wrong;
            }));
        }
        for (Future<Integer> f : results) {
            assertThat(f.get()).isZero();
        }
        pool.shutdown();
        assertThat(sync.syncs()).isPositive().isLessThan(800 / 2); // shared: far fewer syncs than commits
    }

    @Test
    void aFailedSyncFailsItsWaitersAndTheNextOneTriesAgain() throws Exception {
        AtomicBoolean fail = new AtomicBoolean(true);
        GroupSync sync = new GroupSync(() -> {
            if (fail.getAndSet(false)) {
                throw new IOException("device gone");
            }
        });
        assertThatThrownBy(sync::await).isInstanceOf(IOException.class).hasMessage("device gone");
        sync.await();
        assertThat(sync.syncs()).isEqualTo(1);
    }
}
