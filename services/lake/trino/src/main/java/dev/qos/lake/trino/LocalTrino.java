package dev.qos.lake.trino;

import io.trino.plugin.hive.HivePlugin;
import io.trino.server.testing.TestingTrinoServer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A single-node Trino 483 coordinator, in-process, with one catalog {@code hive}: the Hive
 * connector over the local file system and a file metastore (no HDFS, no Hive metastore service).
 *
 * <p>Usage: {@code java -cp CLASSPATH dev.qos.lake.trino.LocalTrino --data-dir D [--port P]
 * [--exit-on-stdin-eof]}. Paths are {@code local:///<absolute path>} (the local file system is
 * rooted at {@code /}); the metastore lives in {@code D/metastore}. When the coordinator is up it
 * prints one line {@code LocalTrino ready on http://HOST:PORT}. SIGTERM stops it; with
 * {@code --exit-on-stdin-eof} so does the end of stdin (the parent process died or let go).
 */
public final class LocalTrino {
    public static final String CATALOG = "hive";
    static final String EXIT_ON_STDIN_EOF = "--exit-on-stdin-eof";

    private LocalTrino() {}

    record Options(Path dataDir, int port, boolean exitOnStdinEof) {}

    static Options parse(String[] args) {
        Path dataDir = null;
        int port = 0;
        boolean exitOnStdinEof = false;
        List<String> rest = new ArrayList<>(List.of(args));
        while (!rest.isEmpty()) {
            String arg = rest.removeFirst();
            switch (arg) {
                case EXIT_ON_STDIN_EOF -> exitOnStdinEof = true;
                case "--data-dir" -> dataDir = Path.of(value(arg, rest)).toAbsolutePath();
                case "--port" -> port = Integer.parseInt(value(arg, rest));
                default -> throw new IllegalArgumentException("unknown argument: " + arg);
            }
        }
        if (dataDir == null) {
            throw new IllegalArgumentException("--data-dir is required");
        }
        return new Options(dataDir, port, exitOnStdinEof);
    }

    private static String value(String flag, List<String> rest) {
        if (rest.isEmpty()) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return rest.removeFirst();
    }

    /** The Hive catalog: local files under {@code /}, the metastore as files in the data dir. */
    static Map<String, String> hiveCatalog(Path dataDir) {
        Map<String, String> properties = new LinkedHashMap<>();
        properties.put("hive.metastore", "file");
        properties.put("hive.metastore.catalog.dir", "local://" + dataDir.resolve("metastore"));
        properties.put("fs.local.enabled", "true");
        properties.put("local.location", "/");
        // Athena reads the Glue table's Parquet columns by name, as the lake writes them.
        properties.put("hive.parquet.use-column-names", "true");
        // The tests register the lake's partitions (Athena projects them from the S3 layout).
        properties.put("hive.allow-register-partition-procedure", "true");
        properties.put("hive.non-managed-table-writes-enabled", "false");
        return properties;
    }

    public static void main(String[] args) throws Exception {
        Options options = parse(args);
        Files.createDirectories(options.dataDir().resolve("metastore"));
        Files.createDirectories(options.dataDir().resolve("node"));
        Map<String, String> server = new LinkedHashMap<>();
        server.put("http-server.http.port", Integer.toString(options.port()));
        TestingTrinoServer trino = TestingTrinoServer.builder()
                .setProperties(server)
                .setBaseDataDir(Optional.of(options.dataDir().resolve("node")))
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> close(trino), "local-trino-shutdown"));
        trino.installPlugin(new HivePlugin());
        trino.createCatalog(CATALOG, "hive", hiveCatalog(options.dataDir()));
        System.out.println("LocalTrino ready on " + trino.getBaseUrl());
        System.out.flush();
        if (options.exitOnStdinEof()) {
            Thread watchdog = new Thread(() -> {
                try {
                    while (System.in.read() >= 0) {
                        // the parent writes nothing: wait for EOF
                    }
                }
                catch (IOException ignored) {
                    // a broken pipe is an end too
                }
                System.out.println("LocalTrino: stdin closed, stopping");
                System.exit(0);
            }, "local-trino-stdin-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }
        Thread.currentThread().join();
    }

    private static void close(TestingTrinoServer trino) {
        try {
            trino.close();
        }
        catch (IOException | RuntimeException e) {
            System.err.println("LocalTrino: closing failed: " + e);
        }
    }
}
