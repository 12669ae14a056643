package io.diem.gateway.api.http;

import com.google.gson.JsonObject;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;

/**
 * One request on one connection, answered either once ({@link #respond}) or as a server-sent event
 * stream ({@link #startStream}, {@link #event}, {@link #endStream}). Once the answer is written the
 * connection goes on to its next request ({@code whenAnswered}) or closes, as keep-alive says. Safe
 * to call from any thread: Netty runs the writes on the connection's event loop.
 */
final class HttpExchange {

    final String method;
    final String path;
    final String authorization;
    final String body;
    private final Channel channel;
    private final boolean keepAlive;
    /** Close by half-closing first and reading on (discarding) for a while: see {@link #lingering}. */
    private boolean linger;
    private final Runnable whenAnswered;
    private final HttpHeaders extraHeaders = new DefaultHttpHeaders();
    private boolean streaming;
    private boolean done;
    private int status;

    HttpExchange(Channel channel, boolean keepAlive, Runnable whenAnswered, String method, String path, String authorization,
            String body) {
        this.channel = channel;
        this.whenAnswered = whenAnswered;
        this.keepAlive = keepAlive;
        this.method = method;
        this.path = path;
        this.authorization = authorization;
        this.body = body;
    }

    Channel channel() {
        return channel;
    }

    /** Adds a header to whatever response this exchange sends (balance headers, Retry-After). */
    void header(String name, Object value) {
        extraHeaders.set(name, value);
    }

    boolean streaming() {
        return streaming;
    }

    /** The status sent (0 before any). */
    int status() {
        return status;
    }

    void respond(HttpResponseStatus s, JsonObject json) {
        if (done || streaming) {
            throw new IllegalStateException("response already sent");
        }
        done = true;
        status = s.code();
        byte[] bytes = (json.toString() + "\n").getBytes(StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, s, Unpooled.wrappedBuffer(bytes));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        finish(channel.writeAndFlush(withHeaders(r)));
    }

    /** Sends 200 and the event-stream headers; events follow. */
    void startStream() {
        if (done || streaming) {
            throw new IllegalStateException("response already sent");
        }
        streaming = true;
        status = 200;
        HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        r.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
        r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        channel.write(withHeaders(r));
    }

    /** One {@code data: …} event. */
    void event(String data) {
        byte[] bytes = ("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8);
        channel.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(bytes)));
    }

    void endStream() {
        if (done) {
            return;
        }
        done = true;
        finish(channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT));
    }

    /**
     * After the answer, stop writing but keep reading (the pipeline discards the rest of the request)
     * for up to {@link #LINGER}, then close: a client still sending a body the server refused (413)
     * reads the answer instead of a reset connection.
     */
    HttpExchange lingering() {
        linger = true;
        return this;
    }

    static final java.time.Duration LINGER = java.time.Duration.ofSeconds(5);

    private HttpResponse withHeaders(HttpResponse r) {
        r.headers().add(extraHeaders);
        if (!keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (!r.protocolVersion().isKeepAliveDefault()) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        return r;
    }

    private void finish(ChannelFuture written) {
        if (keepAlive) {
            written.addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    whenAnswered.run(); // on the event loop: the next request on this connection
                } else {
                    channel.close();
                }
            });
        } else if (linger && channel instanceof io.netty.channel.socket.DuplexChannel duplex) {
            written.addListener((ChannelFutureListener) f -> {
                duplex.shutdownOutput();
                channel.eventLoop().schedule(() -> {
                    channel.close();
                }, LINGER.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            });
        } else {
            written.addListener(ChannelFutureListener.CLOSE);
        }
    }
}
