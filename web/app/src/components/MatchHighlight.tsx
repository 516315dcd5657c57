/** A text with every case-insensitive occurrence of `match` marked, as search found it. */
export function MatchHighlight(props: { text: string; match: string }) {
  const { text, match } = props;
  if (match === '') return <>{text}</>;
  const lower = text.toLowerCase();
  const needle = match.toLowerCase();
  const parts = [];
  let at = 0;
  for (let i = lower.indexOf(needle); i >= 0 && needle.length > 0; i = lower.indexOf(needle, at)) {
    if (i > at) parts.push(text.slice(at, i));
    parts.push(<mark key={i}>{text.slice(i, i + needle.length)}</mark>);
    at = i + needle.length;
  }
  parts.push(text.slice(at));
  return <>{parts}</>;
}
