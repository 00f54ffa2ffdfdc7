// Placeholder: this page is being built.
import { show, el } from './core.js';
show(el('div', { class: 'empty' }, 'This page is not built yet.'));
