namespace Microsoft.ML.BGpt.Checkpoints;

/// <summary>
/// A checkpoint file could not be read or written: corrupted or truncated data, a pickle that is not a bGPT
/// checkpoint, a tensor of the wrong shape, a disallowed pickle global or an unsupported dtype.
/// The message names the file and, where relevant, the tensor key.
/// </summary>
public class BGptCheckpointException : Exception
{
    /// <summary>The file concerned, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The tensor (state dict key) concerned, when there is one.</summary>
    public string? TensorKey { get; }

    /// <summary>Creates the exception; the message is prefixed with the file and tensor.</summary>
    public BGptCheckpointException(string? filePath, string message, string? tensorKey = null, Exception? inner = null)
        : base(Format(filePath, tensorKey, message), inner)
    {
        FilePath = filePath;
        TensorKey = tensorKey;
    }

    private static string Format(string? filePath, string? tensorKey, string message)
    {
        var where = filePath is null ? "" : $"'{filePath}': ";
        var key = tensorKey is null ? "" : $"tensor '{tensorKey}': ";
        return where + key + message;
    }
}

/// <summary>A pickle referenced a Python global that is not on the allow-list; nothing was executed.</summary>
public sealed class DisallowedPickleGlobalException : BGptCheckpointException
{
    /// <summary>The rejected global as "module.name".</summary>
    public string Global { get; }

    /// <summary>Creates the exception for <paramref name="global"/>.</summary>
    public DisallowedPickleGlobalException(string? filePath, string global)
        : base(filePath, $"the pickle references the Python global '{global}', which is not allowed in a checkpoint (nothing was executed).")
        => Global = global;
}
