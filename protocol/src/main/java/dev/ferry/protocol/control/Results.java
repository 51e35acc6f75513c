package dev.ferry.protocol.control;

import dev.ferry.protocol.ExitCode;

/** Builders for the common shapes of a control {@link Result}. */
public final class Results {

    private Results() {
    }

    public static Result failure(ExitCode code, String message) {
        return Result.newBuilder().setOk(false).setExitCode(code.code()).setMessage(message).build();
    }

    public static Result.Builder success(String message) {
        return Result.newBuilder().setOk(true).setExitCode(ExitCode.OK.code()).setMessage(message);
    }
}
