namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>
/// Per-dataset recipes, chosen by hand from each dataset's README (file structure), never from test results. They fix
/// the window (and so patch size and count); epochs still come from the time budget, like Auto. An unknown folder gets
/// the Auto recipe. Targets are the issue's.
/// </summary>
internal static class TunedRecipes
{
    public static double? Target(string dataset) => dataset switch
    {
        "filetypes" => 0.98, "digits-bmp" => 0.98, "spoken-digits-wav" => 0.95, "text-lang" => 0.99, _ => null,
    };

    /// <summary>The hand-chosen window in bytes and why.</summary>
    public static (int Window, string Why)? Window(string dataset) => dataset switch
    {
        // Language shows in any paragraph: 1 KB (head + tail of the longer snippets) doubles the epochs of a 2 KB window.
        "text-lang" => (1024, "1 KiB head+tail: a language shows in any paragraph, so half the window buys twice the epochs"),
        // 1,862-byte BMPs: the 784 pixel bytes are the last 784; a 2 KiB window sees the whole image.
        "digits-bmp" => (2048, "2 KiB: the whole 1,862-byte BMP (all 784 pixels)"),
        // 8,044-byte WAVs with the word anywhere in the second: the whole clip (Auto's patches for 8 KiB: 128 of 64 B).
        "spoken-digits-wav" => (8192, "8 KiB: the whole 1 s clip, since the word sits at any offset"),
        // Magic bytes and trailers carry the type: 2 KiB head+tail of every file.
        "filetypes" => (2048, "2 KiB head+tail: magic numbers and trailers carry the type"),
        _ => null,
    };

    /// <summary>
    /// Datasets whose tuned recipe always pretrains, even when the budget gives pretraining fewer epochs than Auto asks
    /// for: 8 KiB audio clips, where fine-tuning from random initialisation overfits the training voices within a few
    /// epochs (validation accuracy peaks, then falls) and the bGPT authors pretrain first.
    /// </summary>
    public static bool AlwaysPretrain(string dataset) => dataset is "spoken-digits-wav";
}
