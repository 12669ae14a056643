package io.diem.gateway.api.http;

import io.diem.common.ThreadFactories;
import io.diem.gateway.call.GenerateCalls;
import io.diem.gateway.ledger.Ledger;
import io.diem.gateway.metrics.GatewayMetrics;
import io.diem.gateway.nodes.NodePicker;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The gateway's OpenAI-style HTTP/1.1 port on Netty, in the gateway's process: TLS when the gRPC
 * port has it, bounded request line (4 KiB), headers (16 KiB) and body ({@link #MAX_BODY_BYTES});
 * one request at a time per connection (keep-alive; pipelined requests wait their turn); requests run on a bounded pool of
 * worker threads ({@link #MAX_CALLS}), so a slow ledger or node never blocks an event loop.
 */
public final class HttpApiServer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(HttpApiServer.class.getName());
    /** Largest request body: a maximal prompt (1 MiB of text) with JSON escaping to spare. */
    public static final int MAX_BODY_BYTES = 4 << 20;
    static final int MAX_HEADER_BYTES = 16 << 10;
    static final int MAX_LINE_BYTES = 4 << 10;
    /** Requests answered at once; more get 503 with Retry-After. */
    static final int MAX_CALLS = 512;
    /** A connection with no byte read or written this long is closed (slow clients, abandoned keep-alives). */
    static final int IDLE_SECONDS = 300;

    private final EventLoopGroup loops = new MultiThreadIoEventLoopGroup(2, ThreadFactories.daemon("http-io"),
            NioIoHandler.newFactory());
    private final ThreadPoolExecutor workers = new ThreadPoolExecutor(0, MAX_CALLS, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
            ThreadFactories.daemon("http-call"));
    private final Channel server;

    /**
     * Listens on {@code bind:port} (0 = any free port).
     *
     * @param tls the server's TLS context, or null for plaintext (the caller applies the bind rules)
     */
    public HttpApiServer(String bind, int port, SslContext tls, Ledger ledger, NodePicker picker, GenerateCalls calls,
            GatewayMetrics metrics) throws InterruptedException {
        OpenAiApi api = new OpenAiApi(ledger, picker, calls, metrics);
        server = new ServerBootstrap().group(loops).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new IdleStateHandler(0, 0, IDLE_SECONDS),
                                new HttpServerCodec(MAX_LINE_BYTES, MAX_HEADER_BYTES, 8192),
                                new BoundedAggregator(),
                                new Requests(api, workers));
                    }
                })
                .bind(new InetSocketAddress(bind, port)).sync().channel();
        LOG.info("OpenAI-style HTTP API listening on " + bind + ":" + port() + (tls == null ? " (plaintext)" : " (TLS)"));
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Stops accepting connections; calls in flight go on until the gateway's drain ends them. */
    public void stopAccepting() {
        server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        stopAccepting();
        workers.shutdownNow();
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /** Error answers written on the event loop (before a request reaches a worker): JSON, then close. */
    private static void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String code, String message) {
        refuse(new HttpExchange(ctx.channel(), false, () -> {}, "", "", null, ""), status, code, message);
    }

    private static void refuse(HttpExchange closing, HttpResponseStatus status, String code, String message) {
        OpenAiApi.fail(closing, new HttpApiException(status, "invalid_request_error", code, null, message));
    }

    /** Collects a request's body up to the limit; a larger one is 413 in OpenAI's error shape. */
    private static final class BoundedAggregator extends HttpObjectAggregator {
        BoundedAggregator() {
            super(MAX_BODY_BYTES);
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            // The client may still be sending the body: linger so that it reads this answer, not a reset.
            refuse(new HttpExchange(ctx.channel(), false, () -> {}, "", "", null, "").lingering(),
                    HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large",
                    "the request body is larger than " + MAX_BODY_BYTES + " bytes");
        }
    }

    /**
     * Hands each complete request of a connection to a worker, one at a time: a request that arrives
     * while the previous one is being answered waits (at most {@link #MAX_QUEUED} of them). The
     * connection keeps being read meanwhile, so a client that hangs up is noticed at once and its call
     * cancelled. Runs on the connection's event loop only.
     */
    private static final class Requests extends SimpleChannelInboundHandler<FullHttpRequest> {
        private static final int MAX_QUEUED = 16;
        private final OpenAiApi api;
        private final ThreadPoolExecutor workers;
        private final java.util.ArrayDeque<HttpExchange> waiting = new java.util.ArrayDeque<>();
        private boolean answering;

        Requests(OpenAiApi api, ThreadPoolExecutor workers) {
            this.api = api;
            this.workers = workers;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (req.decoderResult().isFailure()) {
                Throwable cause = req.decoderResult().cause();
                if (cause instanceof TooLongHttpHeaderException) {
                    refuse(ctx, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
                            "request headers are larger than " + MAX_HEADER_BYTES + " bytes");
                } else if (cause instanceof TooLongHttpLineException) {
                    refuse(ctx, HttpResponseStatus.REQUEST_URI_TOO_LONG, "uri_too_long",
                            "the request line is longer than " + MAX_LINE_BYTES + " bytes");
                } else if (cause instanceof TooLongFrameException) {
                    refuse(ctx, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "request_too_large", "the request is too large");
                } else {
                    refuse(ctx, HttpResponseStatus.BAD_REQUEST, "bad_request", "malformed HTTP request");
                }
                return;
            }
            if (waiting.size() >= MAX_QUEUED) {
                ctx.close(); // a client pipelining without reading its answers
                return;
            }
            waiting.add(new HttpExchange(ctx.channel(), HttpUtil.isKeepAlive(req), () -> next(ctx), req.method().name(),
                    new QueryStringDecoder(req.uri()).path(), req.headers().get(HttpHeaderNames.AUTHORIZATION),
                    req.content().toString(StandardCharsets.UTF_8)));
            if (!answering) {
                next(ctx);
            }
        }

        /** Starts answering the next waiting request, if any. */
        private void next(ChannelHandlerContext ctx) {
            HttpExchange x = waiting.poll();
            answering = x != null;
            if (x == null) {
                return;
            }
            try {
                workers.execute(() -> api.handle(x));
            } catch (RejectedExecutionException e) {
                OpenAiApi.fail(x, new HttpApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "service_unavailable", "busy", null,
                        "the gateway is answering " + MAX_CALLS + " requests already; retry shortly"));
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof IdleStateEvent) {
                ctx.close();
                return;
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a reset connection or a failed TLS handshake: nothing to answer
        }
    }
}
