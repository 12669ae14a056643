package io.diem.gateway.cli;

import com.google.protobuf.MessageOrBuilder;
import io.grpc.Channel;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** A {@code diemctl} command that makes calls: it reaches the root's connection options and output through its spec. */
abstract class CtlCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    Diemctl root() {
        return (Diemctl) spec.root().userObject();
    }

    /** Opens a channel to the gateway, runs {@code call}, prints the answer (JSON with --json), closes the channel. */
    <T extends MessageOrBuilder> int call(Function<Channel, T> call, Function<T, String> human) {
        return root().call(call, human, null);
    }
}
