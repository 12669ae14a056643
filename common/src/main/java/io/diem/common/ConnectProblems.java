package io.diem.common;

/**
 * Why a gRPC call could not reach a server, in words a person can act on: the first cause below the
 * call that is a TLS or connection failure. Shared by {@code diemctl} and {@code diem-agent check-config}.
 */
public final class ConnectProblems {

    private ConnectProblems() {}

    /**
     * The problem, or null when the failure is not a transport one.
     *
     * @param target the HOST:PORT dialed
     * @param trustHint what to pass when the server's certificate is not trusted (e.g. "pass --ca FILE (or set DIEM_CA)")
     * @param plaintextHint what to pass for a plaintext server on loopback (e.g. "--insecure")
     * @param addressSetting where the address came from, for "is … right?" (e.g. "--gateway (or DIEM_GATEWAY)")
     */
    public static String describe(Throwable failure, String target, String trustHint, String plaintextHint, String addressSetting) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof javax.net.ssl.SSLHandshakeException || t instanceof java.security.cert.CertificateException) {
                return "TLS handshake with " + target + " failed (" + t.getMessage() + "): if its certificate is signed by its "
                        + "own CA, " + trustHint;
            }
            if (t instanceof javax.net.ssl.SSLException) {
                return "TLS with " + target + " failed (" + t.getMessage() + "): is it serving TLS? (a plaintext test server "
                        + "on loopback needs " + plaintextHint + ")";
            }
            if (t instanceof java.net.ConnectException) {
                return "cannot reach " + target + ": " + firstWord(t.getMessage()) + "; is it running, and is " + addressSetting + " right?";
            }
            if (t instanceof java.net.UnknownHostException) {
                return "cannot resolve the host of " + target + " (" + t.getMessage() + "); is " + addressSetting + " right?";
            }
        }
        return null;
    }

    /** "Connection refused: /127.0.0.1:1" → "connection refused". */
    private static String firstWord(String message) {
        if (message == null) {
            return "connection failed";
        }
        int colon = message.indexOf(':');
        return (colon > 0 ? message.substring(0, colon) : message).toLowerCase(java.util.Locale.ROOT);
    }
}
