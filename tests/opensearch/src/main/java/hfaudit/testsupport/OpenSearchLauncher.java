package hfaudit.testsupport;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts one real OpenSearch 2.19 node for tests, from jars on the classpath.
 *
 * <p>Usage: {@code OpenSearchLauncher <home-dir> <http-port> [--ignore-stdin]}
 *
 * <ul>
 *   <li>{@code home-dir}: created if absent; holds data/, logs/ and config/.
 *   <li>{@code http-port}: the HTTP port on 127.0.0.1; 0 picks a free one.
 *   <li>{@code --ignore-stdin}: do not stop when standard input reaches EOF.
 * </ul>
 *
 * <p>The node is a single-node cluster bound to 127.0.0.1 only (HTTP and
 * transport), with plain HTTP (no security plugin), disk watermarks disabled
 * and the HTTP, common-analysis, mapper-extras and painless modules loaded as
 * classpath plugins through the test framework's {@code MockNode}.
 *
 * <p>Once HTTP answers, one line {@code OPENSEARCH_READY http://127.0.0.1:PORT}
 * is printed to stdout; logs go to stderr. The node closes on SIGTERM/SIGINT
 * or when stdin is closed, then prints {@code OPENSEARCH_STOPPED}.
 */
public final class OpenSearchLauncher {

    static final String LOG_CONFIG_RESOURCE = "hfaudit-opensearch-log4j2.properties";

    private OpenSearchLauncher() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3 || (args.length == 3 && !args[2].equals("--ignore-stdin"))) {
            System.err.println("usage: OpenSearchLauncher <home-dir> <http-port|0> [--ignore-stdin]");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        int httpPort = Integer.parseInt(args[1]);
        boolean watchStdin = args.length < 3;

        // Must be set before the first log4j call (i.e. before any OpenSearch class logs).
        configureLoggingProperties();

        Files.createDirectories(home.resolve("config"));
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));

        // All OpenSearch types are confined to NodeRunner so that the
        // system properties above are in place before they are loaded.
        NodeRunner runner = new NodeRunner(home, httpPort);
        CountDownLatch stopped = new CountDownLatch(1);

        Thread hook = new Thread(() -> {
            runner.close();
            stopped.countDown();
        }, "hfaudit-opensearch-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);

        String url;
        try {
            url = "http://127.0.0.1:" + runner.start();
            waitForHttp(url, 120_000);
        } catch (Throwable t) {
            System.err.println("OPENSEARCH_FAILED " + t);
            t.printStackTrace(System.err);
            System.out.println("OPENSEARCH_FAILED " + t.getClass().getName() + ": " + t.getMessage());
            System.out.flush();
            System.exit(1); // the shutdown hook closes whatever was started
            return;
        }
        System.out.println("OPENSEARCH_READY " + url);
        System.out.flush();

        if (watchStdin) {
            Thread watcher = new Thread(() -> {
                try {
                    InputStream in = System.in;
                    byte[] buf = new byte[256];
                    while (in.read(buf) >= 0) {
                        // discard; any input is ignored, EOF means stop
                    }
                } catch (IOException ignored) {
                    // treat as EOF
                }
                System.err.println("[hfaudit-launcher] stdin closed, stopping node");
                System.exit(0); // runs the shutdown hook
            }, "hfaudit-stdin-watcher");
            watcher.setDaemon(true);
            watcher.start();
        }

        // Park the main thread; the JVM exits via System.exit or a signal.
        stopped.await();
    }

    private static void configureLoggingProperties() {
        URL cfg = OpenSearchLauncher.class.getClassLoader().getResource(LOG_CONFIG_RESOURCE);
        if (System.getProperty("log4j2.configurationFile") == null
            && System.getProperty("log4j.configurationFile") == null
            && cfg != null) {
            System.setProperty("log4j2.configurationFile", cfg.toString());
        }
        // Keep logging alive while our own shutdown hook closes the node.
        setIfAbsent("log4j.shutdownHookEnabled", "false");
        setIfAbsent("log4j2.disable.jmx", "true");
        // Same Netty settings the OpenSearch distribution's jvm.options uses.
        setIfAbsent("io.netty.noUnsafe", "true");
        setIfAbsent("io.netty.noKeySetOptimization", "true");
        setIfAbsent("io.netty.recycler.maxCapacityPerThread", "0");
        setIfAbsent("io.netty.allocator.numDirectArenas", "0");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** Polls GET /_cluster/health until it answers 200 (or the bound passes). */
    private static void waitForHttp(String baseUrl, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                HttpURLConnection c = (HttpURLConnection) new URL(
                    baseUrl + "/_cluster/health?wait_for_status=yellow&timeout=5s").openConnection();
                c.setConnectTimeout(2000);
                c.setReadTimeout(10_000);
                int code = c.getResponseCode();
                try (InputStream body = code < 400 ? c.getInputStream() : c.getErrorStream()) {
                    if (body != null) {
                        body.readAllBytes();
                    }
                }
                c.disconnect();
                if (code == 200) {
                    return;
                }
                last = new IOException("HTTP " + code);
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("OpenSearch HTTP did not answer at " + baseUrl, last);
    }

    /** Holds every reference to OpenSearch classes. */
    static final class NodeRunner {
        private final Path home;
        private final int httpPort;
        private org.opensearch.node.Node node;

        NodeRunner(Path home, int httpPort) {
            this.home = home;
            this.httpPort = httpPort;
        }

        int start() throws Exception {
            org.opensearch.common.settings.Settings settings = org.opensearch.common.settings.Settings.builder()
                .put("cluster.name", "hf-audit-test")
                .put("node.name", "hf-audit-node")
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("network.host", "127.0.0.1")
                .put("http.port", Integer.toString(httpPort))
                .put("transport.port", "0") // ephemeral: single-node needs no known transport port
                .put("discovery.type", "single-node")
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("action.destructive_requires_name", false)
                .put("bootstrap.memory_lock", false)
                .build();

            List<Class<? extends org.opensearch.plugins.Plugin>> plugins = List.of(
                org.opensearch.transport.Netty4Plugin.class,
                org.opensearch.analysis.common.CommonAnalysisPlugin.class,
                org.opensearch.index.mapper.MapperExtrasPlugin.class,
                org.opensearch.painless.PainlessPlugin.class);

            synchronized (this) {
                node = new org.opensearch.node.MockNode(settings, plugins);
            }
            node.start();
            org.opensearch.http.HttpServerTransport http =
                node.injector().getInstance(org.opensearch.http.HttpServerTransport.class);
            return http.boundAddress().publishAddress().getPort();
        }

        synchronized void close() {
            if (node == null) {
                return;
            }
            try {
                node.close();
                if (!node.awaitClose(30, TimeUnit.SECONDS)) {
                    System.err.println("[hfaudit-launcher] node did not close within 30s");
                }
            } catch (Exception e) {
                System.err.println("[hfaudit-launcher] error while closing node: " + e);
            } finally {
                node = null;
                System.out.println("OPENSEARCH_STOPPED");
                System.out.flush();
                try {
                    org.apache.logging.log4j.LogManager.shutdown();
                } catch (Throwable ignored) {
                    // best effort
                }
            }
        }
    }
}
