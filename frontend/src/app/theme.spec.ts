import { DEFAULT_THEME, luminance } from '@mantine/core';
import { describe, expect, it } from 'vitest';

import { contrastRatio, readableOn, resolveContrast, theme } from './theme.js';

const { colors } = DEFAULT_THEME;
const resolved = resolveContrast({ ...DEFAULT_THEME, ...theme } as typeof DEFAULT_THEME);

describe('the contrast of the theme', () => {
  it('measures contrast as WCAG does', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#ffffff', '#ffffff')).toBe(1);
    // Mantine's dimmed grey on white: what axe-core reported in the browser.
    expect(contrastRatio('#868e96', '#ffffff')).toBeCloseTo(3.32, 2);
  });

  it('keeps a colour that already reads, and darkens or lightens one that does not', () => {
    expect(readableOn('#000000', '#ffffff')).toBe('#000000');
    const darker = readableOn('#868e96', '#ffffff');
    expect(contrastRatio(darker, '#ffffff')).toBeGreaterThanOrEqual(4.5);
    expect(luminance(darker)).toBeLessThan(luminance('#868e96'));
    const lighter = readableOn('#828282', '#3b3b3b');
    expect(contrastRatio(lighter, '#3b3b3b')).toBeGreaterThanOrEqual(4.5);
    expect(luminance(lighter)).toBeGreaterThan(luminance('#828282'));
  });

  it('gives dimmed text AA contrast on every surface of either theme', () => {
    const light = resolved.light['--mantine-color-dimmed'] ?? '';
    for (const surface of ['#ffffff', colors.gray[0], colors.gray[1]]) {
      expect(contrastRatio(light, surface)).toBeGreaterThanOrEqual(4.5);
    }
    const dark = resolved.dark['--mantine-color-dimmed'] ?? '';
    for (const surface of [colors.dark[7], colors.dark[6], colors.dark[5]]) {
      expect(contrastRatio(dark, surface)).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('gives the text of every light variant AA contrast on its background, hovered or not', () => {
    for (const [name, shades] of Object.entries(colors)) {
      const text = resolved.light[`--mantine-color-${name}-light-color`] ?? '';
      expect(contrastRatio(text, shades[1]), name).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(text, shades[2]), name).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('puts white text on the primary colour at AA contrast in both themes', () => {
    const shades = theme.primaryShade as { light: number; dark: number };
    expect(contrastRatio('#ffffff', colors.blue[shades.light] ?? '')).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio('#ffffff', colors.blue[shades.dark] ?? '')).toBeGreaterThanOrEqual(4.5);
  });
});
