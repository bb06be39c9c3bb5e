using SkiaSharp;

namespace Microsoft.ML.BGpt.Evaluation;

/// <summary>Draws a confusion matrix (rows = true class, columns = predicted; shade = share of the row) as a PNG.</summary>
internal static class ConfusionPng
{
    public static void Write(ClassMetrics m, string title, string path)
    {
        int n = m.Classes.Count, cell = n > 16 ? 30 : 44, left = 110, top = 70;
        int width = left + n * cell + 20, height = top + n * cell + 40;
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        var face = File.Exists("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
            ? SKTypeface.FromFile("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf") : SKTypeface.Default;
        using var font = new SKFont(face, n > 16 ? 10 : 12);
        using var titleFont = new SKFont(face, 14);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var white = new SKPaint { Color = SKColors.White, IsAntialias = true };
        using var fill = new SKPaint { Style = SKPaintStyle.Fill };
        using var grid = new SKPaint { Style = SKPaintStyle.Stroke, Color = new SKColor(200, 200, 200) };
        canvas.DrawText(title, 10, 20, SKTextAlign.Left, titleFont, ink);
        canvas.DrawText("predicted →", left, top - 30, SKTextAlign.Left, font, ink);
        for (int i = 0; i < n; i++)
        {
            int row = m.Row(i);
            canvas.DrawText(m.Classes[i], left - 6, top + i * cell + cell / 2 + 4, SKTextAlign.Right, font, ink);
            canvas.Save();
            canvas.Translate(left + i * cell + cell / 2 + 4, top - 4);
            canvas.RotateDegrees(-45);
            canvas.DrawText(m.Classes[i], 0, 0, SKTextAlign.Left, font, ink);
            canvas.Restore();
            for (int j = 0; j < n; j++)
            {
                double share = row == 0 ? 0 : m.Confusion[i, j] / (double)row;
                byte shade = (byte)(255 - 200 * share);
                fill.Color = i == j ? new SKColor(shade, shade, 255) : new SKColor(255, shade, shade);
                var rect = SKRect.Create(left + j * cell, top + i * cell, cell, cell);
                canvas.DrawRect(rect, fill);
                canvas.DrawRect(rect, grid);
                if (m.Confusion[i, j] > 0)
                    canvas.DrawText(m.Confusion[i, j].ToString(), rect.MidX, rect.MidY + 4, SKTextAlign.Center, font, share > 0.6 ? white : ink);
            }
        }
        canvas.DrawText($"accuracy {m.Accuracy:P1}, macro-F1 {m.MacroF1:F3}, {m.Total} test files", 10, height - 12, SKTextAlign.Left, font, ink);
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var file = File.OpenWrite(path);
        file.SetLength(0);
        data.SaveTo(file);
    }
}
