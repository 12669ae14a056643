package io.diem.agent.serve;

import io.diem.v1.ExecuteResponse;
import io.grpc.StatusRuntimeException;

/**
 * Where one job's events go: the caller of the local API, or the gateway on the node's session.
 * {@link JobRunner} sends deltas, then the summary and {@link #complete}, or one {@link #fail}.
 */
interface JobStream {

    void send(ExecuteResponse event);

    /** The job ended with its summary (already sent). */
    void complete();

    /** The job was refused or could not finish. */
    void fail(StatusRuntimeException status);

    /** Whoever asked for the job has gone away (or cancelled it). */
    boolean isCancelled();

    /** Runs {@code onCancel} when the asker cancels (at once if it already has). */
    void onCancel(Runnable onCancel);
}
