import {
  createTheme,
  darken,
  DEFAULT_THEME,
  Drawer,
  lighten,
  luminance,
  Modal,
  type CSSVariablesResolver,
} from '@mantine/core';

/** WCAG 2.1 AA for body text. */
const AA_TEXT = 4.5;

/** The WCAG contrast ratio of two opaque colours. */
export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/**
 * `color` moved away from `background` (darker on a light one, lighter on a dark one) in small steps until
 * text in it reads at AA contrast there; unchanged when it already does.
 */
export function readableOn(color: string, background: string): string {
  const shift = luminance(background) > 0.18 ? darken : lighten;
  let readable = color;
  for (let amount = 0.05; contrastRatio(readable, background) < AA_TEXT && amount <= 1; amount += 0.05) {
    readable = shift(color, amount);
  }
  return readable;
}

const { colors } = DEFAULT_THEME;

/**
 * Mantine's palette, corrected where its defaults measure below AA (axe-core, in the browser test): dimmed
 * text (gray 6 on white is 3.3:1), and the text of `light` variants (shade 9 on shade 2 is 4.0:1 for blue,
 * 3.8:1 for green). Each is made readable on the darkest surface it is drawn on.
 */
export const resolveContrast: CSSVariablesResolver = () => ({
  variables: {},
  light: {
    // Code headers and hovered rows are gray 1 at their darkest.
    '--mantine-color-dimmed': readableOn(colors.gray[6], colors.gray[1]),
    ...Object.fromEntries(
      Object.entries(colors).map(([name, shades]) => [
        `--mantine-color-${name}-light-color`,
        readableOn(shades[9], shades[2]),
      ]),
    ),
  },
  dark: {
    // Code headers are dark 5, the lightest surface text sits on.
    '--mantine-color-dimmed': readableOn(colors.dark[2], colors.dark[5]),
  },
});

export const theme = createTheme({
  primaryColor: 'blue',
  // White on blue 8 is 5.0:1; on blue 7 it is 4.2:1, on blue 5 (dark) 3.0:1.
  primaryShade: { light: 8, dark: 8 },
  defaultRadius: 'md',
  fontFamily:
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif',
  fontFamilyMonospace: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
  focusRing: 'auto',
  components: {
    // A close button is an icon: it needs a name to be announced.
    Drawer: Drawer.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close panel' } } }),
    Modal: Modal.extend({ defaultProps: { closeButtonProps: { 'aria-label': 'Close dialog' } } }),
  },
});
