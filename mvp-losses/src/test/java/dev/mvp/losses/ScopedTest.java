package dev.mvp.losses;

import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Runs each test inside a {@link PointerScope}, as a training step does, so its tensors are freed after it. */
abstract class ScopedTest {
    private PointerScope scope;

    @BeforeEach void openScope() {
        scope = new PointerScope();
    }

    @AfterEach void closeScope() {
        scope.close();
    }
}
