import { useSearchParams } from 'react-router';

/** The open tab, kept in the URL (`?tab=…`) so a link can open one; the setter ignores values that are no tab. */
export function useTabParam<T extends string>(
  tabs: readonly T[],
  fallback: T,
): [T, (next: string | null) => void] {
  const [search, setSearch] = useSearchParams();
  const tab = tabs.find((candidate) => candidate === search.get('tab')) ?? fallback;
  const show = (value: string | null) => {
    const next = tabs.find((candidate) => candidate === value);
    if (next === undefined) return;
    setSearch(
      (current) => {
        const params = new URLSearchParams(current);
        params.set('tab', next);
        return params;
      },
      { replace: true },
    );
  };
  return [tab, show];
}
