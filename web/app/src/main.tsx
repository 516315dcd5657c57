import { render } from 'preact';
import { lang } from './i18n.ts';
import { App } from './components/App.tsx';
import './styles.css';
import { registerServiceWorker } from './web-push.ts';

document.documentElement.lang = lang;
render(<App />, document.getElementById('app')!);
registerServiceWorker();
