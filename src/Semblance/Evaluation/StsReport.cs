// A self-contained HTML page for an STS run: the results table and an SVG scatter of gold score vs cosine.
using System.Globalization;
using System.Net;
using System.Text;

namespace Semblance.Evaluation;

public static class StsReport
{
    private const int Width = 640, Height = 420, Left = 56, Right = 16, Top = 16, Bottom = 48;

    /// <summary>The page: a heading, the table of all configurations, and the scatter of <paramref name="results"/>[0].</summary>
    public static string Html(string title, StsDataset data, IReadOnlyList<StsResult> results)
    {
        if (results.Count == 0) throw new ArgumentException("no results", nameof(results));
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(Enc(title)).Append("</title>\n");
        sb.Append("<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}")
          .Append("td,th{border:1px solid #bbb;padding:3px 10px;text-align:right}th{background:#eee}td.l{text-align:left}</style></head><body>\n");
        sb.Append("<h1>").Append(Enc(title)).Append("</h1>\n");
        sb.Append("<p>").Append(data.Pairs.Count.ToString(CultureInfo.InvariantCulture)).Append(" pairs, ")
          .Append(data.Sentences.Count.ToString(CultureInfo.InvariantCulture)).Append(" distinct sentences, from ").Append(Enc(data.Source)).Append("</p>\n");
        sb.Append("<table><tr><th>pooling</th><th>whitening</th><th>dims</th><th>spearman</th><th>pearson</th></tr>\n");
        foreach (var r in results)
            sb.Append("<tr><td class=\"l\">").Append(Enc(r.Configuration.Pooling)).Append("</td><td class=\"l\">").Append(Enc(r.Configuration.Whitening))
              .Append("</td><td>").Append(r.Configuration.Dims.ToString(CultureInfo.InvariantCulture)).Append("</td><td>").Append(F2(r.Spearman))
              .Append("</td><td>").Append(F2(r.Pearson)).Append("</td></tr>\n");
        sb.Append("</table>\n");
        var first = results[0];
        sb.Append("<h2>Gold score vs predicted cosine: ").Append(Enc($"{first.Configuration.Pooling}, whitening {first.Configuration.Whitening}, dims {first.Configuration.Dims}")).Append("</h2>\n");
        sb.Append(Scatter(data.Gold, first.Predicted));
        sb.Append("\n</body></html>\n");
        return sb.ToString();
    }

    /// <summary>An inline SVG scatter plot, x = gold, y = predicted, with axis ticks.</summary>
    public static string Scatter(IReadOnlyList<double> gold, IReadOnlyList<double> predicted)
    {
        double gx0 = gold.Min(), gx1 = gold.Max();
        double py0 = Math.Min(predicted.Min(), 0), py1 = Math.Max(predicted.Max(), 0);
        if (gx1 == gx0) gx1 = gx0 + 1;
        if (py1 == py0) py1 = py0 + 1;
        int pw = Width - Left - Right, ph = Height - Top - Bottom;
        double X(double v) => Left + (v - gx0) / (gx1 - gx0) * pw;
        double Y(double v) => Top + (1 - (v - py0) / (py1 - py0)) * ph;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fafafa\" stroke=\"#888\"/>\n");
        for (int i = 0; i <= 5; i++)
        {
            double gv = gx0 + (gx1 - gx0) * i / 5, pv = py0 + (py1 - py0) * i / 5;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(gv):F1}\" y1=\"{Top + ph}\" x2=\"{X(gv):F1}\" y2=\"{Top + ph + 4}\" stroke=\"#888\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(gv):F1}\" y=\"{Top + ph + 16}\" text-anchor=\"middle\">{gv:0.##}</text>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left - 4}\" y1=\"{Y(pv):F1}\" x2=\"{Left}\" y2=\"{Y(pv):F1}\" stroke=\"#888\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Y(pv) + 4:F1}\" text-anchor=\"end\">{pv:0.##}</text>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + pw / 2}\" y=\"{Height - 8}\" text-anchor=\"middle\">gold score</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{Top + ph / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {Top + ph / 2})\">cosine</text>\n");
        sb.Append("<g fill=\"#1f63b5\" fill-opacity=\"0.35\">\n");
        for (int i = 0; i < gold.Count; i++)
            sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{X(gold[i]):F1}\" cy=\"{Y(predicted[i]):F1}\" r=\"2.5\"/>\n");
        sb.Append("</g>\n</svg>");
        return sb.ToString();
    }

    public static string F2(double v) => double.IsNaN(v) ? "nan" : v.ToString("F2", CultureInfo.InvariantCulture);

    private static string Enc(string s) => WebUtility.HtmlEncode(s);
}
