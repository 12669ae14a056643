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

    /**
     * The object a command acts on, given as its positional parameter (the convention) or, for scripts
     * written before it, as the option it replaced; both at once must agree.
     */
    static String positionalOrOption(String positional, String option, String what) {
        if (positional != null && !positional.isEmpty() && option != null && !option.isEmpty() && !positional.equals(option)) {
            throw new IllegalArgumentException(what + " given twice with different values: " + positional + " and " + option);
        }
        return positional != null && !positional.isEmpty() ? positional : option == null ? "" : option;
    }

    /** {@code value}, or a usage error saying how to give it. */
    static String required(String value, String usage) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("missing argument: " + usage);
        }
        return value;
    }

    /** Opens a channel to the gateway, runs {@code call}, prints the answer (JSON with --json), closes the channel. */
    <T extends MessageOrBuilder> int call(Function<Channel, T> call, Function<T, String> human) {
        return root().call(call, human, null);
    }
}
