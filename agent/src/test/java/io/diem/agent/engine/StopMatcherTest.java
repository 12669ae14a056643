package io.diem.agent.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopMatcherTest {

    @Test
    void holdsBackAPossibleStopPrefixThenReleasesIt() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertThat(m.append("hello E")).isEqualTo("hello ");
        assertThat(m.append("N")).isEmpty();
        assertThat(m.append("x")).isEqualTo("ENx");
        assertThat(m.matched()).isFalse();
    }

    @Test
    void stopSplitAcrossPiecesCutsBeforeIt() {
        StopMatcher m = new StopMatcher(List.of("\n\n", "STOP"));
        assertThat(m.append("one\n")).isEqualTo("one");
        assertThat(m.append("\ntwo")).isEmpty();
        assertThat(m.matched()).isTrue();
        assertThat(m.text()).isEqualTo("one");
    }

    @Test
    void earliestStopWinsAndFinishReleasesTheRest() {
        StopMatcher m = new StopMatcher(List.of("bc", "abcd"));
        assertThat(m.append("xxabcd")).isEqualTo("xx"); // "abcd" starts before "bc"
        StopMatcher n = new StopMatcher(List.of("zz"));
        assertThat(n.append("az")).isEqualTo("a");
        assertThat(n.finish("")).isEqualTo("z");
        assertThat(n.text()).isEqualTo("az");
    }
}
