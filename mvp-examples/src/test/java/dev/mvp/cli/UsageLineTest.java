package dev.mvp.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Usage errors from picocli's conversions are one line in words: no Java class or interface names. */
class UsageLineTest {

    @Test
    void aPathThatCannotBeConvertedIsNamedWithoutClassNames() {
        StringWriter err = new StringWriter();
        int rc = Main.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "pretrain", "--data", "bad\0name");
        assertEquals(Main.USAGE_ERROR, rc);
        String first = err.toString().lines().findFirst().orElseThrow();
        assertTrue(first.startsWith("mvp pretrain: Invalid value for option '--data': cannot convert 'bad"), first);
        assertTrue(first.contains("to a path ("), first);
        assertFalse(first.contains("java."), first);
        assertFalse(first.contains("Exception"), first);
        assertFalse(first.contains("interface"), first);
    }

    @Test
    void conversionMessagesLoseTheirClassNames() {
        assertEquals("Invalid value for option '--data': cannot convert 'dätä' to a path (Malformed input or input contains"
                        + " unmappable characters: d??t?)",
                Main.usageLine("Invalid value for option '--data': cannot convert 'dätä' to interface java.nio.file.Path"
                        + " (java.nio.file.InvalidPathException: Malformed input or input contains unmappable characters: d??t?)"));
        assertEquals("Invalid value for option '--x': cannot convert 'q' to a whole number (For input string: \"q\")",
                Main.usageLine("Invalid value for option '--x': cannot convert 'q' to class java.lang.Integer"
                        + " (java.lang.NumberFormatException: For input string: \"q\")\nsecond line"));
        assertEquals("Unknown option: '--nope'", Main.usageLine("Unknown option: '--nope'"));
    }
}
