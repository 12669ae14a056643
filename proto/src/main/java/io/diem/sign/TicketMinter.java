package io.diem.sign;

import com.google.protobuf.ByteString;
import io.diem.v1.JobTicket;
import io.diem.v1.SignedTicket;

/** The gateway side of job tickets: authenticates a ticket with the target node's key. */
public final class TicketMinter {

    private TicketMinter() {}

    /** Stamps {@code key}'s id into the ticket and authenticates its exact bytes. */
    public static SignedTicket mint(TicketKey key, JobTicket ticket) {
        byte[] bytes = ticket.toBuilder().setKeyId(key.keyId()).build().toByteArray();
        return SignedTicket.newBuilder()
                .setTicket(ByteString.copyFrom(bytes))
                .setMac(ByteString.copyFrom(key.mac(bytes)))
                .setKeyId(key.keyId())
                .build();
    }
}
