<?php
// Symfony HttpFoundation with the `_method` parameter override enabled (body or query, on
// a POST, or the X-HTTP-Method-Override header) and Symfony Routing's UrlMatcher, served
// by `php -S`.
require_once 'Symfony/Component/HttpFoundation/autoload.php';
require_once 'Symfony/Component/Routing/autoload.php';

use Symfony\Component\HttpFoundation\JsonResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\Routing\Exception\ExceptionInterface as RoutingException;
use Symfony\Component\Routing\Matcher\UrlMatcher;
use Symfony\Component\Routing\RequestContext;
use Symfony\Component\Routing\Route;
use Symfony\Component\Routing\RouteCollection;

Request::enableHttpMethodParameterOverride();
$request = Request::createFromGlobals();

$routes = new RouteCollection();
$routes->add('contacts', new Route('/v1/contacts', ['pattern' => '/v1/contacts'], [], [], '', [], ['GET', 'POST', 'DELETE']));
$routes->add('contact', new Route('/v1/contacts/{id}', ['pattern' => '/v1/contacts/{id}'], [], [], '', [], ['GET', 'PUT', 'PATCH', 'DELETE']));
$routes->add('reports', new Route('/v1/reports/{rest}', ['pattern' => '/v1/reports/*', 'rest' => ''], ['rest' => '.*'], [], '', [], ['GET']));

try {
    $method = $request->getMethod();
    $matcher = new UrlMatcher($routes, (new RequestContext())->fromRequest($request));
    $route = $matcher->match($request->getPathInfo())['pattern'];
    $status = 200;
} catch (RoutingException $e) {
    $route = null;
    $status = 404;
} catch (\Throwable $e) {
    // An override Symfony refuses (SuspiciousOperationException): nothing dispatched.
    $method = $request->server->get('REQUEST_METHOD');
    $route = null;
    $status = 400;
}

$dispatched = ['method' => $method, 'route' => $route, 'framework' => 'symfony'];
$response = new JsonResponse($dispatched, $status);
$response->headers->set('X-Dispatched', json_encode($dispatched, JSON_UNESCAPED_SLASHES));
$response->headers->set('X-Target', $_SERVER['REQUEST_URI'] ?? '');
$response->send();
