package dev.qos.search;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.geo.GeoModulePlugin;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.ingest.common.IngestCommonPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.search.aggregations.matrix.MatrixAggregationPlugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single-node OpenSearch running in-process from the Maven Central artifacts, for
 * integration tests and the local stack. No Docker and no distribution on disk: the
 * modules are passed as classpath plugins, so nothing is kept in modules/ or plugins/.
 *
 * <p>Usage: {@code java -cp CLASSPATH dev.qos.search.LocalNode [--exit-on-stdin-eof] -Ekey=value ...}.
 * Required: {@code path.home}; {@code path.data} defaults to {@code path.home/data}, {@code http.port}
 * to 9200. Other {@code -E} settings are passed through to the node. SIGTERM (or SIGINT) closes the
 * node cleanly through a shutdown hook; with {@code --exit-on-stdin-eof} so does the end of stdin,
 * which ties the node's life to a parent process that holds the other end of a pipe.
 *
 * <p>The plugin classes are imported directly: a missing module fails the build instead of
 * silently starting a node without HTTP, painless or geo aggregations.
 */
public final class LocalNode extends Node {

    /** The modules a distribution would load from modules/, here from the classpath. */
    static final List<Class<? extends Plugin>> MODULES = List.of(
            Netty4Plugin.class,
            PainlessPlugin.class,
            CommonAnalysisPlugin.class,
            MapperExtrasPlugin.class,
            MatrixAggregationPlugin.class,
            GeoModulePlugin.class,
            IngestCommonPlugin.class,
            ReindexPlugin.class);

    /** Exit (cleanly, through the shutdown hook) when stdin reaches EOF, i.e. when the parent dies. */
    static final String EXIT_ON_STDIN_EOF = "--exit-on-stdin-eof";

    LocalNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    static Settings settings(String[] args) {
        Settings.Builder given = Settings.builder();
        for (String arg : args) {
            if (arg.equals(EXIT_ON_STDIN_EOF)) {
                continue;
            }
            if (!arg.startsWith("-E") || arg.indexOf('=') < 0) {
                throw new IllegalArgumentException("expected -Ekey=value, got: " + arg);
            }
            int eq = arg.indexOf('=');
            given.put(arg.substring(2, eq), arg.substring(eq + 1));
        }
        String home = given.get("path.home");
        if (home == null) {
            throw new IllegalArgumentException("-Epath.home=DIR is required");
        }
        Path homePath = Paths.get(home).toAbsolutePath();
        Settings.Builder builder = Settings.builder()
                .put("cluster.name", "qos-local")
                .put("node.name", "qos-local-node")
                .put("discovery.type", "single-node")
                .put("network.host", "127.0.0.1")
                .put("http.port", "9200")
                .put("transport.port", "0")
                .put("path.data", homePath.resolve("data").toString())
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("action.auto_create_index", true)
                .put("logger.level", "INFO")
                .put(given.build())
                .put("path.home", homePath.toString());
        return builder.build();
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("opensearch.set.netty.runtime.available.processors", "false");
        Settings settings = settings(args);
        Path home = Paths.get(settings.get("path.home"));
        Files.createDirectories(home);
        Files.createDirectories(Paths.get(settings.get("path.data")));
        // Nothing may be in modules/ or plugins/: the plugins come from the classpath, and a
        // copy on disk would load twice (jar hell).
        for (String dir : new String[] {"modules", "plugins"}) {
            Path p = home.resolve(dir);
            if (Files.isDirectory(p)) {
                try (var entries = Files.list(p)) {
                    if (entries.findAny().isPresent()) {
                        throw new IllegalStateException(p + " must be empty: modules come from the classpath");
                    }
                }
            }
        }

        LogConfigurator.registerErrorListener();
        LogConfigurator.configureWithoutConfig(settings);
        Environment environment =
                InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(), null, () -> "qos-local-node");

        LocalNode node = new LocalNode(environment, MODULES);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread keepAlive = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "qos-local-node-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                if (!node.awaitClose(20, TimeUnit.SECONDS)) {
                    System.err.println("LocalNode: node did not close within 20s");
                }
                System.out.println("LocalNode: stopped");
            } catch (Exception e) {
                System.err.println("LocalNode: error while closing the node: " + e);
            } finally {
                stopped.countDown();
            }
        }, "qos-local-node-shutdown"));

        if (List.of(args).contains(EXIT_ON_STDIN_EOF)) {
            Thread watchdog = new Thread(() -> {
                try {
                    while (System.in.read() >= 0) {
                        // discard: only the end of the stream matters
                    }
                } catch (java.io.IOException e) {
                    // a broken pipe means the parent is gone, as EOF does
                }
                System.out.println("LocalNode: stdin closed, stopping");
                System.exit(0);
            }, "qos-local-node-stdin-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }

        try {
            node.start();
        } catch (Throwable t) {
            System.err.println("LocalNode: failed to start: " + t);
            t.printStackTrace();
            System.exit(1);
        }
        System.out.println("LocalNode: started http://127.0.0.1:" + settings.get("http.port")
                + " data=" + settings.get("path.data"));
    }
}
